//! The contract suite every target plugin must pass.
