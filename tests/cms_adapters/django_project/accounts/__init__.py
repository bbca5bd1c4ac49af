"""A custom user model with a language, as projects that localise their users have."""
