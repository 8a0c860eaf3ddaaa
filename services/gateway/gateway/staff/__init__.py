"""Staff sign-in: accounts with argon2id passwords, sessions stored as hashes, login throttling. No FastAPI here."""
