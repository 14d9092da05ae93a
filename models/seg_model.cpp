#include "models/seg_model.h"

#include "base/check.h"
#include "engine/autograd.h"
#include "engine/io/checkpoint.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "engine/optim/adamw.h"
#include "engine/optim/lr_schedule.h"

#include <algorithm>
#include <numeric>
#include <sstream>

namespace cxr {

namespace {

std::string join_widths(const std::vector<int>& widths) {
  std::string s;
  for (std::size_t i = 0; i < widths.size(); ++i) {
    if (i > 0) s += ',';
    s += std::to_string(widths[i]);
  }
  return s;
}

std::vector<int> parse_widths(const std::string& text) {
  std::vector<int> widths;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) widths.push_back(std::stoi(part));
  return widths;
}

std::string metadata_at(const std::map<std::string, std::string>& metadata, const std::string& key,
                        const std::string& path) {
  auto it = metadata.find(key);
  CXR_CHECK(it != metadata.end(), "{}: not a CT segmentation model (no '{}' in its metadata)", path, key);
  return it->second;
}

}  // namespace

SegModel make_seg_model(SegTask task, SegNetConfig config, std::uint64_t seed) {
  config.classes = seg_class_count(task);
  SegModel model;
  model.task = task;
  model.net = std::make_unique<SegNet>(config);
  model.params = std::make_unique<ParameterSet>(*model.net, seed);
  return model;
}

void save_seg_model(const std::string& path, SegModel& model) {
  const SegNetConfig& c = model.net->config();
  save_checkpoint(path, *model.net,
                  {{"format", "cxr-seg"},
                   {"task", seg_task_name(model.task)},
                   {"input_size", std::to_string(c.input_size)},
                   {"widths", join_widths(c.widths)}});
}

SegModel load_seg_model(const std::string& path) {
  const SafetensorsFile file = load_safetensors(path);
  CXR_CHECK(metadata_at(file.metadata, "format", path) == "cxr-seg", "{}: format is not cxr-seg", path);
  SegNetConfig config;
  try {
    config.input_size = std::stoi(metadata_at(file.metadata, "input_size", path));
    config.widths = parse_widths(metadata_at(file.metadata, "widths", path));
  } catch (const std::logic_error&) {
    throw Error(path + ": unreadable input_size or widths in the metadata");
  }
  SegModel model = make_seg_model(parse_seg_task(metadata_at(file.metadata, "task", path)), config, 0);
  load_checkpoint(file, *model.net);
  model.net->eval();
  return model;
}

void train_seg(SegModel& model, const std::vector<SegSlice>& train, const SegTrainOptions& options,
               const SegProgress& progress) {
  CXR_CHECK(!train.empty(), "train_seg: no training slices");
  CXR_CHECK(options.epochs >= 1 && options.batch_size >= 1, "train_seg: epochs {} and batch size {} must be >= 1",
            options.epochs, options.batch_size);
  const int size = model.net->config().input_size;
  const std::int64_t batches = (static_cast<std::int64_t>(train.size()) + options.batch_size - 1) / options.batch_size;
  const CosineWarmupSchedule schedule{options.lr, batches, batches * options.epochs};
  AdamW optimizer(*model.params, {.lr = options.lr, .weight_decay = options.weight_decay});
  const Device device = model.params->device();
  Generator gen(options.seed);
  std::vector<std::size_t> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  model.net->train();
  std::int64_t step = 0;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[gen.below(i)]);  // Fisher-Yates
    double loss_sum = 0;
    for (std::int64_t b = 0; b < batches; ++b) {
      const auto first = order.begin() + b * options.batch_size;
      const auto last = order.begin() + std::min<std::int64_t>((b + 1) * options.batch_size, order.size());
      const SegBatch batch = make_seg_batch(train, std::vector<std::size_t>(first, last), size, model.task,
                                            options.augment ? &gen : nullptr);
      optimizer.set_lr(schedule.lr_at(step++));
      model.params->zero_grad();
      const Tensor targets = batch.targets.to(device);
      const Tensor logits = model.net->forward(batch.x.to(device));
      const Tensor loss =
          add(binary_cross_entropy_with_logits(logits, targets), soft_dice_loss(sigmoid(logits), targets));
      loss.backward();
      optimizer.step();
      loss_sum += loss.item();
    }
    if (progress) progress(epoch, loss_sum / static_cast<double>(batches));
  }
  model.net->eval();
}

SegPrediction predict_seg(SegModel& model, const data::GreyImage& image) {
  CXR_CHECK(image.width >= 1 && image.height >= 1, "predict_seg: empty image");
  NoGradGuard no_grad;
  model.net->eval();
  const int size = model.net->config().input_size;
  Tensor x = Tensor::empty({1, 1, size, size});
  render_seg_input(x.data<float>(), size, image, SegAugment::identity());
  const Tensor probs =
      resize_bilinear(sigmoid(model.net->forward(x.to(model.params->device()))), image.height, image.width)
          .to(Device::cpu());
  const int classes = seg_class_count(model.task);
  const std::size_t plane = static_cast<std::size_t>(image.width) * image.height;
  SegPrediction out{image.width, image.height, std::vector<std::uint8_t>(plane, 0), std::vector<double>(classes, 0.0)};
  const float* p = probs.data<float>();
  for (std::size_t i = 0; i < plane; ++i) {
    int best = 0;
    for (int c = 1; c < classes; ++c)
      if (p[c * plane + i] > p[best * plane + i]) best = c;
    if (p[best * plane + i] >= 0.5f) {
      out.labels[i] = static_cast<std::uint8_t>(best + 1);
      out.area_fraction[best] += 1.0;
    }
  }
  for (double& a : out.area_fraction) a /= static_cast<double>(plane);
  return out;
}

SegEvaluation evaluate_seg(SegModel& model, const std::vector<SegSlice>& slices) {
  SegEvaluation e;
  e.names = seg_class_names(model.task);
  const bool with_union = model.task == SegTask::multiclass;
  if (with_union) e.names.push_back("infection (union)");
  e.per_slice.resize(e.names.size());
  for (const SegSlice& slice : slices) {
    const SegPrediction prediction = predict_seg(model, slice.image);
    e.slice_ids.push_back(slice.id);
    const std::size_t n = slice.labels.size();
    for (int c = 0; c < seg_class_count(model.task); ++c) {
      std::vector<bool> predicted(n), truth(n);
      for (std::size_t i = 0; i < n; ++i) {
        predicted[i] = prediction.labels[i] == c + 1;
        truth[i] = seg_target(model.task, c, slice.labels[i]);
      }
      e.per_slice[c].push_back(count_overlap(predicted, truth));
    }
    if (with_union) {
      std::vector<bool> predicted(n), truth(n);
      for (std::size_t i = 0; i < n; ++i) {
        predicted[i] = prediction.labels[i] > 0;
        truth[i] = slice.labels[i] > 0;
      }
      e.per_slice.back().push_back(count_overlap(predicted, truth));
    }
  }
  for (const auto& rows : e.per_slice) e.summaries.push_back(summarize_overlap(rows));
  return e;
}

}  // namespace cxr
