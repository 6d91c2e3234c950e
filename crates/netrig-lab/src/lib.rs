//! netrig-lab
