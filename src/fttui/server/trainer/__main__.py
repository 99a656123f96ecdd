"""``python -m fttui.server.trainer SPEC_JSON_PATH``: run one training job."""

import sys

from fttui.server.trainer.loop import main

sys.exit(main(sys.argv[1:]))
