//! The 2016 functions (being written).
