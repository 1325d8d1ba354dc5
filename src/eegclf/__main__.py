from eegclf.cli import main

raise SystemExit(main())
