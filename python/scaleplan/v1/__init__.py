"""Generated protobuf and gRPC modules of ``proto/scaleplan/v1`` (``make proto`` regenerates them;
``make test`` fails when they drift). This file is the only hand-written one here."""
