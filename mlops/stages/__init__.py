"""What each plan node does: one small module per stage, plain inputs in, plain outputs out."""
