"""electra-tf: ELECTRA for TensorFlow 2 / Keras 3, faithful to google-research/electra."""

import setuptools

setuptools.setup(
    name="electra-tf",
    version="0.1.0",
    description=(
        "ELECTRA pre-training, fine-tuning and checkpoint conversion for "
        "TensorFlow 2 / Keras 3, faithful to google-research/electra"
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=setuptools.find_packages(include=["electra_tf", "electra_tf.*"]),
    package_data={"electra_tf": ["resources/*", "resources/corpus/*"]},
    include_package_data=True,
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.10,<4",
        "tensorflow-text>=2.21,<2.22",
        "numpy",
        "absl-py",
        "safetensors",
    ],
    # The tests check our Hugging Face folders against transformers itself;
    # torch 2.13.0 is pinned to the CPU build (a newer one is a CUDA build).
    extras_require={
        "test": ["pytest", "torch==2.13.0", "transformers==5.24.0"]
    },
)
