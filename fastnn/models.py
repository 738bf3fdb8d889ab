"""placeholder until layers/models land"""
class Model: pass
class Sequential(Model): pass
