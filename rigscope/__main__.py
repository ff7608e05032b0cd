"""`python -m rigscope` runs the command line."""

from rigscope.cli import main

raise SystemExit(main())
