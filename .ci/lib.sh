# Sourced by the CI scripts that run backends or SDKs as their own processes (targets.sh, sdk.sh),
# from the repository root: the pinned Python and Node dependencies, free loopback ports, and
# waiting for a server to answer.

# python_venv DIR: a venv at DIR with examples/python-flask/requirements.txt (PyPI, pinned) in it.
python_venv() {
  python3 -m venv "$1"
  "$1/bin/pip" install --quiet --disable-pip-version-check -r examples/python-flask/requirements.txt
}

# node_express_deps: examples/node-express/node_modules from its lockfile.
node_express_deps() {
  npm ci --prefix examples/node-express --no-audit --no-fund --loglevel=error
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for() {
  for _ in $(seq 300); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "nothing answers at $1" >&2
  return 1
}
