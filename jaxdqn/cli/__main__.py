import sys

from jaxdqn.cli import main

sys.exit(main())
