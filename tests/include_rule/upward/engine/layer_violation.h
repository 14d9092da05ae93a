// A fixture of the include_rule_catches_upward test: the engine may not include a
// header of models/, a layer above it (docs/architecture.md).
#pragma once
#include "models/trainer.h"
