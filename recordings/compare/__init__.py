"""Sessions side by side: which sessions (targets), their figures (collect), groups (groups), tables and charts."""
