//! netrig-wire
