//! netrig facade
