"""``python -m wsclients`` runs the ``wsclients`` command."""

import sys

from wsclients.cli import main

sys.exit(main())
