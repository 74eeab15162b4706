"""The one exception type for mistakes a user can make.

The CLI prints a `GanthologyError` as a single sentence and exits non-zero, without a traceback.
Anything else that escapes is a bug in ganthology and keeps its traceback, with one exception:
`settings_guard` turns what PyTorch raises while a model is built and takes its first step (a
width of 0, a beta of 2, more memory than there is) into one sentence naming the model, since
those come from settings the user chose. GANTHOLOGY_DEBUG=1 keeps the traceback there too.
"""
import contextlib
import os


class GanthologyError(Exception):
    """A problem with the user's input (model name, flag, data, checkpoint, image) and what to do."""


@contextlib.contextmanager
def settings_guard(model: str):
    """Around building a model and its first training step: an error raised there by PyTorch comes
    from the settings (every flag was range-checked before, but not every combination), so it
    becomes one sentence that says so."""
    try:
        yield
    except GanthologyError:
        raise
    except (MemoryError, RuntimeError, ValueError, TypeError, ZeroDivisionError, IndexError, OverflowError) as e:
        if os.environ.get("GANTHOLOGY_DEBUG"):
            raise
        text = " ".join(str(e).split())
        if isinstance(e, MemoryError) or "allocate" in text or "out of memory" in text:
            raise GanthologyError(f"{model} with these settings needs more memory than there is; lower the widths, "
                                  "depths or --batch-size.") from None
        raise GanthologyError(f"{model} cannot train with these settings ({type(e).__name__}: {text[:160]}); "
                              f"check the values you changed against 'ganthology train {model} --help'.") from None


#: the most parameters and buffer entries a model may have: 2^31 (8 GiB of float32), far above any
#: paper's network; beyond it a setting is a typo that would exhaust the machine's memory
MAX_PARAMETERS = 2**31


def check_size(model: str, build) -> None:
    """Build the model on PyTorch's meta device (shapes only, no memory) and refuse it in one sentence
    if it is larger than MAX_PARAMETERS: a width of 20,000 is legal for each layer but would fill the
    memory (and be killed by the system) before PyTorch could say so. A model that cannot be built
    on the meta device (it reads files or data while it is built) is left to the real build."""
    import warnings

    import torch

    try:
        with warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")
            m = build()
    except Exception:  # noqa: BLE001 -- the real build says what is wrong, under settings_guard
        return
    n = sum(t.numel() for t in m.parameters()) + sum(t.numel() for t in m.buffers())
    if n > MAX_PARAMETERS:
        raise GanthologyError(f"{model} with these settings has {n:,} weights ({4 * n / 2**30:,.0f} GiB); lower the "
                              "widths or depths.")
