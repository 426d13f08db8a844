"""The Pulumi engine's rules (pulumi/pulumi, the installed SDK 3.272) over Pulumi.yaml, the
program's layout and the dynamic provider that imports Kibana's saved objects.

Facts from docs/product-rules.md P1-P4: pkg/engine/project.go getPwdMain (`main: stack/` is a
directory: the program runs with cwd <root>/stack, and pulumi-language-python-exec's
runpy.run_path puts stack/ on sys.path[0]); providers start with cmd.Dir = that pwd
(sdk/go/common/resource/plugin/plugin.go); sdk/python/toolchain/pip.go joins a relative
`virtualenv` to the project root; pulumi/dynamic/dynamic.py serialize_provider pickles with
dill by reference unless `__module__` is `__main__`, and the provider host cannot import stack/.
"""

import importlib.util
import os
import sys
from pathlib import Path

import yaml

from lab.support import REPO_ROOT
from stack import app_image, kibana_import
from tests.support import engine_launch
from tests.support.dynamic_providers import foreign_imports

PROJECT = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())


def program_dir() -> Path:
    """project.go getPwdMain: a directory `main` becomes the working directory."""
    main = REPO_ROOT / PROJECT["main"]
    return main if main.is_dir() else main.parent


def test_main_is_the_stack_directory_with_its_entry_point():
    assert program_dir() == REPO_ROOT / "stack"
    assert (program_dir() / "__main__.py").is_file()


def test_virtualenv_resolves_for_the_language_host_and_the_dynamic_provider_launcher():
    """The same `virtualenv` option is read by two rules (pulumi/pulumi at the pin):
    the language host joins a relative value to the project root
    (sdk/python/toolchain/pip.go resolveVirtualEnvironmentPath), the dynamic provider launcher
    (sdk/python/dist/pulumi-resource-pulumi-python) to its $PWD, which is the program directory
    (provider_plugin.go NewProvider -> newPlugin(ctx.Pwd), plugin.go cmd.Dir = pwd). Both must
    find a python there, or the launcher exits 1 before any dynamic provider runs."""
    options = PROJECT["runtime"]["options"]
    assert options["toolchain"] == "pip"
    language_host = engine_launch.language_host_virtualenv(REPO_ROOT, options["virtualenv"])
    assert (language_host / "bin" / "python").exists(), language_host
    env = engine_launch.runtime_options_env(PROJECT)
    launcher = engine_launch.launcher_python(env, program_dir())
    assert launcher.resolve() == (language_host / "bin" / "python").resolve()


def test_the_app_build_context_resolves_from_the_program_directory():
    """plugin.go: the docker provider runs with cmd.Dir = the program directory, so a relative
    build context is read from there, not from the repository root."""
    before = os.getcwd()
    os.chdir(program_dir())
    try:
        context = Path(app_image.build_context())
        assert (program_dir() / context).resolve() == app_image.APP_DIR.resolve()
        assert (program_dir() / context / "Dockerfile").is_file()
    finally:
        os.chdir(before)


def test_no_module_in_stack_shadows_one_the_program_imports():
    """runpy.run_path puts stack/ first on sys.path: a stack/x.py hides any top-level `x`."""
    names = {p.stem for p in program_dir().glob("*.py")} | {
        p.name for p in program_dir().iterdir() if (p / "__init__.py").exists()
    }
    names.discard("__main__")
    elsewhere = [n for n in sys.path if Path(n or ".").resolve() != program_dir().resolve()]
    shadowed = set()
    for name in names:
        if name in sys.stdlib_module_names:
            shadowed.add(name)
            continue
        loaded = sys.modules.get(name)
        if loaded is not None:
            origin = Path(getattr(loaded, "__file__", None) or ".").resolve()
            if program_dir().resolve() not in origin.parents:
                shadowed.add(name)
            continue
        saved = sys.path[:]
        try:
            sys.path[:] = elsewhere
            spec = importlib.util.find_spec(name)
        finally:
            sys.path[:] = saved
        if spec is not None:
            shadowed.add(name)
    assert not shadowed, f"stack/ modules shadowing importable modules: {sorted(shadowed)}"


def test_the_dynamic_provider_is_pickled_by_value_and_imports_only_what_the_host_has():
    """pulumi/dynamic/dynamic.py serialize_provider (dill, by reference when importable) and
    sdk/python/dist/pulumi-resource-pulumi-python (the host cannot import stack/)."""
    provider = kibana_import.KibanaSavedObjectsProvider
    assert provider.__module__ == "__main__"
    for member in (kibana_import.import_saved_objects, kibana_import.content_hash):
        assert member.__module__ == "__main__", member
    foreign = foreign_imports(kibana_import.__file__)
    assert not foreign, f"imports the provider host may lack: {sorted(foreign)}"


def test_the_dynamic_provider_copies_no_input_under_another_key():
    """pulumi/dynamic/__main__.py Configure answers acceptSecrets False; the engine re-marks an
    output secret only under the key of the secret input (provider_plugin.go annotateSecrets),
    so outputs are the inputs echoed plus values derived from non-secret inputs."""
    props = {"kibana_url": "http://k", "ndjson": "{}\n", "trigger": "t"}
    outputs = kibana_import._outputs(props, {"successCount": 1})
    assert set(outputs) - set(props) == {"content_hash", "success_count"}
