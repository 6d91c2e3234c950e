//! netrig-judge
