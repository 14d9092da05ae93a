#include "models/gan_net.h"

#include "base/check.h"

#include <algorithm>
#include <memory>
#include <string>

namespace cxr {

namespace {

constexpr int kMaxWidth = 256;

int generator_width(const GanConfig& c, int stage) {  // g(stage), stage 0..k
  return std::min(kMaxWidth, c.generator_width << (c.stages() - stage));
}

int discriminator_width(const GanConfig& c, int stage) {  // d(stage), stage 1..k
  return std::min(kMaxWidth, c.discriminator_width << (stage - 1));
}

}  // namespace

int GanConfig::stages() const {
  for (int k = 1; k <= 10; ++k)
    if (image_size == (4 << k)) return k;
  throw Error("GAN: image size " + std::to_string(image_size) + " is not 4 * 2^k (8, 16, 32, 64, 128, ...)");
}

void GanConfig::check() const {
  stages();
  CXR_CHECK(latent >= 1 && latent <= 4096, "GAN: latent size {} is not in [1, 4096]", latent);
  CXR_CHECK(generator_width >= 1 && generator_width <= kMaxWidth, "GAN: generator width {} is not in [1, {}]",
            generator_width, kMaxWidth);
  CXR_CHECK(discriminator_width >= 1 && discriminator_width <= kMaxWidth,
            "GAN: discriminator width {} is not in [1, {}]", discriminator_width, kMaxWidth);
}

GanGenerator::GanGenerator(const GanConfig& config)
    : config_((config.check(), config)),
      project_(add_module("project", std::make_unique<Linear>(config.latent, generator_width(config, 0) * 16))),
      project_bn_(add_module("project_bn", std::make_unique<BatchNorm2d>(generator_width(config, 0)))) {
  for (int i = 1; i <= config.stages(); ++i) {
    const std::string name = "stages." + std::to_string(i - 1);
    convs_.push_back(&add_module(
        name + ".conv", std::make_unique<Conv2d>(generator_width(config, i - 1), generator_width(config, i), 3, 1, 1)));
    bns_.push_back(&add_module(name + ".bn", std::make_unique<BatchNorm2d>(generator_width(config, i))));
  }
  to_image_ = &add_module(
      "to_image", std::make_unique<Conv2d>(generator_width(config, config.stages()), 1, 3, 1, 1, 1, /*bias=*/true));
}

Tensor GanGenerator::forward(const Tensor& z) {
  CXR_CHECK(z.dim() == 2 && z.size(1) == config_.latent, "GanGenerator: z has shape {}, expected [N, {}]", z.str(),
            config_.latent);
  Tensor h = reshape(project_.forward(z), {z.size(0), generator_width(config_, 0), 4, 4});
  h = project_bn_.forward_relu(h);
  for (std::size_t i = 0; i < convs_.size(); ++i) {
    h = resize_bilinear(h, static_cast<int>(h.size(2)) * 2, static_cast<int>(h.size(3)) * 2);
    h = bns_[i]->forward_relu(convs_[i]->forward(h));
  }
  return tanh(to_image_->forward(h));
}

GanDiscriminator::GanDiscriminator(const GanConfig& config) {
  config.check();
  for (int i = 1; i <= config.stages(); ++i) {
    const std::string name = "stages." + std::to_string(i - 1);
    const int in = i == 1 ? 1 : discriminator_width(config, i - 1);
    convs_.push_back(
        &add_module(name + ".conv", std::make_unique<Conv2d>(in, discriminator_width(config, i), 4, 2, 1)));
    if (i > 1) bns_.push_back(&add_module(name + ".bn", std::make_unique<BatchNorm2d>(discriminator_width(config, i))));
  }
  classify_ = &add_module("classify", std::make_unique<Linear>(discriminator_width(config, config.stages()) * 16, 1));
}

Tensor GanDiscriminator::forward(const Tensor& x) {
  Tensor h = x;
  for (std::size_t i = 0; i < convs_.size(); ++i) {
    h = convs_[i]->forward(h);
    if (i > 0) h = bns_[i - 1]->forward(h);
    h = leaky_relu(h, 0.2);
  }
  return classify_->forward(flatten(h));
}

}  // namespace cxr
