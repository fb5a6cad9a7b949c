"""``python -m nipype_carbon`` runs the command-line interface."""

from nipype_carbon.cli.main import main

raise SystemExit(main())
