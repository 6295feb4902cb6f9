"""``python -m ddbspec``: the ``ddbspec`` command (``ddbspec.cli``)."""

import sys

from ddbspec.cli import main

sys.exit(main())
