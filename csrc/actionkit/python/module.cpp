// The Python extension module actionkit._C: a thin stub. Importing it loads
// libactionkit, whose static initialisers register torch.ops.actionkit.*; the
// module itself only reports how the library was built.
#include <Python.h>

#include "actionkit/build_info.h"

namespace {

PyObject* build_info(PyObject*, PyObject*) {
  return Py_BuildValue("{s:s,s:O,s:s,s:s,s:s}", "version", actionkit::version().c_str(),
                       "cuda_compiled", actionkit::cuda_compiled() ? Py_True : Py_False,
                       "cuda_archs", actionkit::cuda_archs().c_str(), "cuda_version",
                       actionkit::cuda_version().c_str(), "torch_version",
                       actionkit::torch_version().c_str());
}

PyMethodDef methods[] = {
    {"build_info", build_info, METH_NOARGS, "How libactionkit was built, as a dict."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C", "actionkit's compiled core.", -1, methods};

}  // namespace

PyMODINIT_FUNC PyInit__C() { return PyModule_Create(&module); }
