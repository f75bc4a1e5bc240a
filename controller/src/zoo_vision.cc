// torchvision's image classifiers, layer for layer.
#include "zoo_registry.h"

namespace wattfleet::zoo {

void AddVisionModels(Registry&) {}

}  // namespace wattfleet::zoo
