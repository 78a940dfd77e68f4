"""Offline stand-in for the get-pip.py script that ansible-test downloads.

ansible-test looks for ``~/.ansible/test/cache/get_pip_<version>.py`` before it downloads one;
scripts/sanity.sh puts this file there.  It bootstraps pip with ``ensurepip`` and then installs
what ansible-test asked for from the configured package index.  ensurepip runs in a subprocess:
called in-process it drops the machine's pip configuration.
"""

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main():
    subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], check=True,
                   stdout=subprocess.DEVNULL)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet"] + args, check=True)


if __name__ == "__main__":
    main()
