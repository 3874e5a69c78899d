from local_runtime.cli import main

raise SystemExit(main())
