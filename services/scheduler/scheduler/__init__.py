"""The scheduler: owns counsellors, locations, opening hours and appointments; the only place that decides a booking."""
