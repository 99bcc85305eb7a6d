from verify.threads import one_thread_per_process

one_thread_per_process()  # before NumPy and PyTorch load: see verify.threads

from verify.cli import main  # noqa: E402

raise SystemExit(main())
