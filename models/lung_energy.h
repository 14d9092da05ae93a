// How much of a model's Grad-CAM lies outside the lungs, by source and predicted class.
//
// For every image: the Grad-CAM map of the predicted class at the default layer
// (models/gradcam.h), and its energy outside the lung fields (models/lung_fields.h):
// 1 - sum of the map inside / sum of the map. A high share on one source, or for one
// class, says the model's evidence there is the film, not the chest. Chance is the
// share of the square outside the lungs (what a uniform map scores).
#pragma once

#include "data/dataset.h"
#include "models/classifier_net.h"
#include "models/lung_fields.h"
#include "models/model_file.h"

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace cxr {

struct EnergyCell {
  std::string source, predicted;           // predicted "" in the per-source rows
  std::int64_t images = 0, own_masks = 0;  // own_masks: measured against the image's own boxes
  std::int64_t predicted_masks = 0;        // measured against the lung segmenter's mask for it
  double mean_outside = 0;
  double mean_chance = 0;  // mean share of the square outside the masks used
};

struct LungEnergyReport {
  std::vector<EnergyCell> by_source, by_source_and_class;
  EnergyCell all;
  double prior_share = 0;             // the prior's share of the square
  std::int64_t annotated_images = 0;  // images of the dataset with their own boxes
  std::string lung_model;             // the segmenter of the predicted masks ("" when none)
};

// Nothing is measured for images without a mask (no boxes at all: an empty report).
// `lung_model` only names the segmenter in the report when fields hold predicted masks.
LungEnergyReport lung_energy(ClassifierNet& net, const ModelInfo& info, const data::Dataset& dataset,
                             std::span<const std::int64_t> indices, const LungFields& fields, int batch = 16,
                             const std::function<void(std::int64_t done)>& progress = {},
                             const std::string& lung_model = "");

std::string format_lung_energy(const LungEnergyReport& report);
boost::json::object lung_energy_to_json(const LungEnergyReport& report);

}  // namespace cxr
