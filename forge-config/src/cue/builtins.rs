//! Standard library builtins.
