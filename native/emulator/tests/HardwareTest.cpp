// Targets, IPU models and the emulated Pod16's devices carry the hardware numbers the models use.
#include <gtest/gtest.h>

#include <poplar/DeviceManager.hpp>
#include <poplar/Graph.hpp>
#include <poplar/IPUModel.hpp>
#include <poplar/Target.hpp>

#include <poplar/Engine.hpp>

namespace {

TEST(Hardware, IpuModelDefaultsAreAnMk2Gc200AndCanBeOverridden) {
  poplar::IPUModel mk2;
  EXPECT_EQ(mk2.tilesPerIPU, 1472u);
  EXPECT_EQ(mk2.memoryBytesPerTile, 624u * 1024);
  EXPECT_DOUBLE_EQ(mk2.tileClockFrequency, 1.33e9);
  poplar::IPUModel bow("ipu21");
  EXPECT_DOUBLE_EQ(bow.tileClockFrequency, 1.85e9);
  mk2.numIPUs = 4;
  mk2.tilesPerIPU = 8;
  mk2.memoryBytesPerTile = 1000;
  poplar::Device d = mk2.createDevice();
  const poplar::Target &t = d.getTarget();
  EXPECT_EQ(t.getTargetType(), poplar::TargetType::IPU_MODEL);
  EXPECT_EQ(t.getNumIPUs(), 4u);
  EXPECT_EQ(t.getNumTiles(), 32u);
  EXPECT_EQ(t.getBytesPerTile(), 1000u);
  EXPECT_EQ(t.getTypeSize(poplar::HALF), 2u);
  EXPECT_EQ(t.getVectorWidth(poplar::FLOAT), 2u);
  EXPECT_THROW(poplar::IPUModel("ipu9"), poplar::poplar_error);
}

TEST(Hardware, ReplicatedGraphTargetsOneReplicasIpus) {
  poplar::Target t = poplar::Target::createIPUTarget(8, "ipu2");
  poplar::Graph g(t, poplar::replication_factor(4));
  EXPECT_EQ(g.getReplicationFactor(), 4u);
  EXPECT_EQ(g.getTarget().getNumIPUs(), 2u);
  EXPECT_EQ(g.getTarget().getTilesPerIPU(), 1472u);
  EXPECT_THROW(poplar::Graph(t, poplar::replication_factor(3)), poplar::poplar_error);
}

TEST(Hardware, DeviceManagerListsAPod16) {
  poplar::DeviceManager dm = poplar::DeviceManager::createDeviceManager();
  EXPECT_EQ(dm.getNumDevices(), 31u);
  std::vector<poplar::Device> fours = dm.getDevices(poplar::TargetType::IPU, 4);
  ASSERT_EQ(fours.size(), 4u);
  EXPECT_EQ(fours[1].getId(), 25u);
  EXPECT_EQ(fours[1].getTarget().getNumIPUs(), 4u);
  EXPECT_EQ(dm.getChildDeviceIds(25), (std::vector<unsigned>{4, 5, 6, 7}));
  EXPECT_EQ(dm.getChildDeviceIds(30, 8), (std::vector<unsigned>{28, 29}));
  poplar::Device d = dm.getDevice(3);
  EXPECT_FALSE(d.isAttached());
  EXPECT_TRUE(d.attach());
  EXPECT_TRUE(d.isAttached());
  d.detach();
  EXPECT_FALSE(d.isAttached());
  EXPECT_THROW(dm.getDevice(31), poplar::poplar_error);
}

TEST(Hardware, HardwareDevicesMustBeAttachedBeforeLoad) {
  poplar::DeviceManager dm = poplar::DeviceManager::createDeviceManager();
  poplar::Device d = dm.getDevice(0);
  poplar::Graph g(d.getTarget());
  poplar::Engine e(g, poplar::program::Sequence());
  EXPECT_THROW(e.load(d), poplar::poplar_error);
  d.attach();
  EXPECT_NO_THROW(e.load(d));
  poplar::Device two = dm.getDevice(16);
  two.attach();
  EXPECT_THROW(e.load(two), poplar::poplar_error); // the graph was built for one IPU
}

TEST(Hardware, TypesKnowTheirNames) {
  EXPECT_EQ(poplar::HALF.toString().cloneAsString(), "half");
  EXPECT_TRUE(poplar::HALF.isFloatingPoint());
  EXPECT_FALSE(poplar::INT.isFloatingPoint());
  EXPECT_TRUE(poplar::equivalent_device_type<float>().value == poplar::FLOAT);
  EXPECT_NE(poplar::FLOAT, poplar::HALF);
}

} // namespace
