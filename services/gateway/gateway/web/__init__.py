"""Server-rendered pages: the booking page and the manage page. No third-party assets."""
