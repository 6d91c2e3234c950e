//! netrig-run
