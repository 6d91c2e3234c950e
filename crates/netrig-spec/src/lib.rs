//! netrig-spec
