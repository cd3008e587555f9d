//! Where the approval-service tokens are kept: the OS keyring, or a 0600 file.
