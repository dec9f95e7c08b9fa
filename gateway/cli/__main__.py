"""`python -m gateway.cli ...`, as the `bc-gateway` console script."""

import sys

from gateway.cli import main

sys.exit(main())
