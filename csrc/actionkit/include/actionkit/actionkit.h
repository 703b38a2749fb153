// Umbrella header of libactionkit.
#pragma once

#include "actionkit/build_info.h"
#include "actionkit/ops.h"
