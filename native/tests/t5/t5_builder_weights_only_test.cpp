// A program built without the training state (a weights-only session, for inference): the graph holds the weights
// and nothing for training, so its engine has no gradient or AdamW moment for the host to read.
#include <gtest/gtest.h>

#include <vector>

#include <poplar/Engine.hpp>
#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>
#include <poplar/exceptions.hpp>

#include "t5/adamw.h"
#include "t5/t5_program.h"
#include "t5_graph_fixture.h"

namespace t5 = ft5::t5;

namespace {

TEST(T5BuilderWeightsOnly, TheGraphHasWeightsAndNoGradientsOrMoments) {
    poplar::IPUModel model;
    model.tilesPerIPU = 4;
    poplar::Device device = model.createDevice();
    poplar::Graph graph(device.getTarget());
    t5::ParallelPlan plan;
    plan.trains = false;
    const t5::T5Config config = ft5::test::tiny_config(1);
    t5::T5Program program(graph, config, t5::BatchShape{2, 5, 4}, t5::DecodeShape{2, 5, 4}, plan);
    ASSERT_FALSE(program.parameters().all().empty());
    for (const t5::Parameter& p : program.parameters().all()) EXPECT_FALSE(p.gradient.valid()) << p.name;

    poplar::Engine engine(graph, program.programs());
    engine.load(device);
    const t5::Parameter& p = program.parameters().all().front();
    std::vector<float> values(p.weight.numElements());
    engine.readTensor(t5::Parameters::weightHandle(p.name), values.data(), values.data() + values.size());
    for (const std::string& handle : {t5::Parameters::gradientHandle(p.name), t5::AdamW::firstMomentHandle(p.name),
                                      t5::AdamW::secondMomentHandle(p.name)})
        EXPECT_THROW(engine.readTensor(handle, values.data(), values.data() + values.size()), poplar::poplar_error)
            << handle;
}

}  // namespace
