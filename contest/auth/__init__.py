"""Staff sign-in (`views`), its form, and the role guard the staff blueprints share."""
