"""A local stand-in for Tallyfy's file API, for demos and over-the-wire tests."""
