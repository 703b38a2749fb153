"""``actionkit-train`` with the test models registered (for subprocess and torchrun runs):
python tests/train_worker.py CONFIG [actionkit-train options]"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import engine_helpers  # noqa: E402, F401  (registers the tiny models)

from actionkit.cli.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
