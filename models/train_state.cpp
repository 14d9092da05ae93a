#include "models/train_state.h"

#include "base/check.h"
#include "engine/io/safetensors.h"
#include "models/json_fields.h"

#include <boost/json.hpp>

#include <cmath>
#include <limits>

namespace cxr {

namespace json = boost::json;
using namespace json_fields;

namespace {

json::value number(double x, bool exact) {
  return exact ? exact_double(x) : json::value(x);
}

}  // namespace

json::object to_json(const TrainOptions& o, bool exact) {
  json::object j{{"data_dir", o.data_dir.string()},
                 {"preset", o.preset},
                 {"out", o.out.string()},
                 {"epochs", o.epochs},
                 {"batch", o.batch},
                 {"lr", number(o.learning_rate(), exact)},
                 {"optimizer", optimizer_name(o.optimizer)},
                 {"class_weights", class_weighting_name(o.class_weights)},
                 {"augment", o.augment},
                 {"seed", o.seed},
                 {"size", o.size},
                 {"patience", o.patience},
                 {"max_minutes", number(o.max_minutes, exact)},
                 {"weight_decay", number(o.weight_decay, exact)},
                 {"momentum", number(o.momentum, exact)},
                 {"width", number(o.width, exact)},
                 {"train_fraction", number(o.train_fraction, exact)},
                 {"workers", o.workers},
                 {"device", o.device}};
  // Fine-tuning only: absent from plain runs, so their cards and checkpoints are unchanged.
  if (o.init_model) j["init_model"] = o.init_model->string();
  if (o.unfreeze != Unfreeze::all) j["unfreeze"] = unfreeze_name(o.unfreeze);
  if (o.extra_data) j["extra_data"] = o.extra_data->string();
  // Against the source shortcut: absent at their defaults, like the fine-tuning fields.
  if (o.balance != SampleBalance::none) j["balance"] = sample_balance_name(o.balance);
  if (o.strong_augment) j["strong_augment"] = true;
  if (o.adversary != 0) j["adversary"] = number(o.adversary, exact);
  if (o.select != Selection::macro_f1) j["select"] = selection_name(o.select);
  if (o.distill_from) j["distill_from"] = o.distill_from->string();
  return j;
}

TrainOptions train_options_from_json(const json::value& value) {
  const std::string where = "training options";
  const json::object& j = as_object(value, where);
  TrainOptions o;
  o.data_dir = get_string(j, "data_dir", where);
  o.preset = get_string(j, "preset", where);
  o.out = get_string(j, "out", where);
  o.epochs = get_int(j, "epochs", where);
  o.batch = get_int(j, "batch", where);
  o.lr = get_double(j, "lr", where);
  o.optimizer = parse_optimizer(get_string(j, "optimizer", where));
  o.class_weights = parse_class_weighting(get_string(j, "class_weights", where));
  o.augment = get_bool(j, "augment", where);
  o.seed = get_uint64(j, "seed", where);
  o.size = get_int(j, "size", where);
  o.patience = get_int(j, "patience", where);
  o.max_minutes = get_double(j, "max_minutes", where);
  o.weight_decay = get_double(j, "weight_decay", where);
  o.momentum = get_double(j, "momentum", where);
  o.width = get_double(j, "width", where);
  if (j.contains("train_fraction")) o.train_fraction = get_double(j, "train_fraction", where);  // absent before 0.2
  o.workers = get_int(j, "workers", where);
  if (j.contains("device")) o.device = get_string(j, "device", where);  // absent before the CUDA backend
  if (j.contains("init_model")) o.init_model = get_string(j, "init_model", where);
  if (j.contains("unfreeze")) {
    const auto u = parse_unfreeze(get_string(j, "unfreeze", where));
    CXR_CHECK(u.has_value(), "{}: unknown unfreeze '{}'", where, get_string(j, "unfreeze", where));
    o.unfreeze = *u;
  }
  if (j.contains("extra_data")) o.extra_data = get_string(j, "extra_data", where);
  if (j.contains("balance")) o.balance = parse_sample_balance(get_string(j, "balance", where));
  if (j.contains("strong_augment")) o.strong_augment = get_bool(j, "strong_augment", where);
  if (j.contains("adversary")) o.adversary = get_double(j, "adversary", where);
  if (j.contains("select")) o.select = parse_selection(get_string(j, "select", where));
  if (j.contains("distill_from")) o.distill_from = get_string(j, "distill_from", where);
  return o;
}

json::object to_json(const EpochRecord& r, bool exact) {
  json::array f1;
  for (double v : r.val_f1) f1.push_back(number(v, exact));
  json::object j{{"epoch", r.epoch},
                 {"lr", number(r.lr, exact)},
                 {"train_loss", number(r.train_loss, exact)},
                 {"val_loss", number(r.val_loss, exact)},
                 {"val_accuracy", number(r.val_accuracy, exact)},
                 {"val_macro_f1", number(r.val_macro_f1, exact)},
                 {"val_f1", std::move(f1)},
                 {"train_seconds", number(r.train_seconds, exact)},
                 {"images_per_second", number(r.images_per_second, exact)}};
  // Absent when no (source, age group) cell was large enough, as in older records.
  if (!std::isnan(r.val_worst_cell_f1)) {
    j["val_worst_cell_f1"] = number(r.val_worst_cell_f1, exact);
    j["val_worst_cell"] = r.val_worst_cell;
  }
  if (r.train_source_loss != 0) j["train_source_loss"] = number(r.train_source_loss, exact);
  return j;
}

EpochRecord epoch_record_from_json(const json::value& value) {
  const std::string where = "epoch record";
  const json::object& j = as_object(value, where);
  EpochRecord r;
  r.epoch = get_int(j, "epoch", where);
  r.lr = get_double(j, "lr", where);
  r.train_loss = get_double(j, "train_loss", where);
  r.val_loss = get_double(j, "val_loss", where);
  r.val_accuracy = get_double(j, "val_accuracy", where);
  r.val_macro_f1 = get_double(j, "val_macro_f1", where);
  const json::array& f1 = get_array(j, "val_f1", where);
  for (std::size_t c = 0; c < f1.size(); ++c)
    r.val_f1.push_back(to_double(f1[c], fmt::format("{} val_f1[{}]", where, c)));
  r.train_seconds = get_double(j, "train_seconds", where);
  r.images_per_second = get_double(j, "images_per_second", where);
  r.val_worst_cell_f1 = std::numeric_limits<double>::quiet_NaN();
  if (j.contains("val_worst_cell_f1")) {
    r.val_worst_cell_f1 = get_double(j, "val_worst_cell_f1", where);
    r.val_worst_cell = get_string(j, "val_worst_cell", where);
  }
  if (j.contains("train_source_loss")) r.train_source_loss = get_double(j, "train_source_loss", where);
  return r;
}

void save_train_checkpoint(const std::string& path, const TrainState& s,
                           const std::vector<std::pair<std::string, Tensor>>& tensors) {
  json::array history;
  for (const auto& r : s.history) history.push_back(to_json(r, true));
  const json::object state{{"options", to_json(s.options, true)},
                           {"manifest_sha256", s.manifest_sha256},
                           {"threads", s.threads},
                           {"epoch", s.epoch},
                           {"batch", s.batch},
                           {"step", s.step},
                           {"epoch_loss_sum", exact_double(s.epoch_loss_sum)},
                           {"epoch_batches", s.epoch_batches},
                           {"epoch_train_seconds", exact_double(s.epoch_train_seconds)},
                           {"epoch_images", s.epoch_images},
                           {"dropout_state", s.dropout_state},
                           {"history", std::move(history)},
                           {"best_epoch", s.best_epoch},
                           {"best_macro_f1", exact_double(s.best_macro_f1)},
                           {"bad_epochs", s.bad_epochs},
                           {"train_seconds", exact_double(s.train_seconds)},
                           {"train_images", s.train_images}};
  save_safetensors(path, tensors,
                   {{"format", kTrainCheckpointFormat},
                    {"format_version", std::to_string(kTrainCheckpointVersion)},
                    {"state", json::serialize(state)}});
}

TrainCheckpoint load_train_checkpoint(const std::string& path) {
  SafetensorsFile file = load_safetensors(path);
  auto format = file.metadata.find("format");
  CXR_CHECK(format != file.metadata.end() && format->second == kTrainCheckpointFormat,
            "'{}' is not a CXR training checkpoint (its metadata has no \"format\": \"{}\")", path,
            kTrainCheckpointFormat);
  auto version = file.metadata.find("format_version");
  CXR_CHECK(version != file.metadata.end() && version->second == std::to_string(kTrainCheckpointVersion),
            "training checkpoint '{}': unknown format version \"{}\" (this build reads version {})", path,
            version == file.metadata.end() ? "" : version->second, kTrainCheckpointVersion);
  auto text = file.metadata.find("state");
  CXR_CHECK(text != file.metadata.end(), "training checkpoint '{}': no \"state\" in its metadata", path);

  TrainCheckpoint c;
  try {
    const json::value v = json::parse(text->second);
    const std::string where = "training state";
    const json::object& j = as_object(v, where);
    TrainState& s = c.state;
    s.options = train_options_from_json(get(j, "options", where));
    s.manifest_sha256 = get_string(j, "manifest_sha256", where);
    s.threads = get_int(j, "threads", where);
    s.epoch = get_int64(j, "epoch", where);
    s.batch = get_int64(j, "batch", where);
    s.step = get_int64(j, "step", where);
    s.epoch_loss_sum = get_double(j, "epoch_loss_sum", where);
    s.epoch_batches = get_int64(j, "epoch_batches", where);
    s.epoch_train_seconds = get_double(j, "epoch_train_seconds", where);
    s.epoch_images = get_int64(j, "epoch_images", where);
    s.dropout_state = get_uint64(j, "dropout_state", where);
    for (const auto& r : get_array(j, "history", where)) s.history.push_back(epoch_record_from_json(r));
    s.best_epoch = get_int(j, "best_epoch", where);
    s.best_macro_f1 = get_double(j, "best_macro_f1", where);
    s.bad_epochs = get_int(j, "bad_epochs", where);
    s.train_seconds = get_double(j, "train_seconds", where);
    s.train_images = get_int64(j, "train_images", where);
  } catch (const std::exception& e) {  // boost::system::system_error from parse, cxr::Error from the fields
    throw Error(fmt::format("training checkpoint '{}': bad state: {}", path, e.what()));
  }
  c.tensors = std::move(file.tensors);
  return c;
}

}  // namespace cxr
