import sys

from normlint.cli import main

sys.exit(main())
