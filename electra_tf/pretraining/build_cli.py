"""The builders' command-line parts: shared flags and the progress line.

The flags follow the original's build_pretraining_dataset.py; --seed,
--num-out-files, --overwrite and --quiet are additions of this port.
"""

import sys
import time

# Per-job counters shared with the parent process (progress and summary).
STATS = ("files", "docs", "examples", "tokens", "written", "bad_lines",
         "lines", "bytes", "binary_files", "long_lines")


class Progress:
    """A throttled one-line progress report on stderr (documents, examples
    and tokens per second)."""

    def __init__(self, total_files, label="files", stream=None,
                 interval=0.5):
        self._total_files = total_files
        self._label = label
        self._stream = stream = stream or sys.stderr
        self._tty = hasattr(stream, "isatty") and stream.isatty()
        self._interval = interval if self._tty else 10.0
        self._start = self._last = time.monotonic()
        self._printed = False

    def update(self, values, force=False):
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        v = dict(zip(STATS, values))
        secs = max(now - self._start, 1e-9)
        line = (
            f"{self._label} {v['files']:,}/{self._total_files:,} | "
            f"docs {v['docs']:,} ({v['docs'] / secs:,.0f}/s) | "
            f"examples {v['examples']:,} ({v['examples'] / secs:,.0f}/s) | "
            f"tokens {v['tokens']:,} ({v['tokens'] / secs:,.0f}/s) | "
            f"{secs:,.1f}s"
        )
        end = "" if self._tty else "\n"
        self._stream.write(("\r" if self._tty else "") + line + end)
        self._stream.flush()
        self._printed = True

    def close(self):
        if self._printed and self._tty:
            self._stream.write("\n")
            self._stream.flush()


def add_tokenizer_flags(parser):
    """Adds the original's case and accent flags to an argparse parser."""
    parser.add_argument("--do-lower-case", dest="do_lower_case",
                        action="store_true", help="Lower-case (default).")
    parser.add_argument("--no-lower-case", dest="do_lower_case",
                        action="store_false", help="Keep the case.")
    parser.add_argument("--do-strip-accents", "--strip-accents",
                        dest="strip_accents", action="store_true",
                        help="Strip accents when lower-casing (default).")
    parser.add_argument("--no-strip-accents", dest="strip_accents",
                        action="store_false", help="Keep accents.")
    parser.set_defaults(do_lower_case=True, strip_accents=True)


def add_shard_flags(parser, overwrite_help):
    """Adds the flags shared by the TFRecord builders' CLIs."""
    parser.add_argument("--max-seq-length", default=128, type=int,
                        help="Tokens per example.")
    parser.add_argument("--num-processes", default=1, type=int,
                        help="Parallel worker processes.")
    add_tokenizer_flags(parser)
    # additions of this port
    parser.add_argument("--num-out-files", default=1000, type=int,
                        help="Number of output shards (original: 1000).")
    parser.add_argument("--seed", default=None, type=int,
                        help="Seed; job j uses random.Random(seed + j), so "
                        "a build repeats exactly (default: unseeded).")
    parser.add_argument("--overwrite", action="store_true",
                        help=overwrite_help)
    parser.add_argument("--quiet", action="store_true",
                        help="No progress line or summary.")
