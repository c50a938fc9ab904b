"""Chemistry: one molecule's properties, rewards, scoring tables, alerts, similarity and
scaffolds; each in its own module."""
