"""What the three Lotse services share: contracts, settings, messaging, storage helpers, crypto, logging."""
