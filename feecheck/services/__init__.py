"""Use cases. Each takes a Session (and the acting user) explicitly; none imports Flask."""
