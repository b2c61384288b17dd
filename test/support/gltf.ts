/** glTF files written by tests with gltf-transform. */
import type { Document, Material } from '@gltf-transform/core';

/** Gives `doc` one triangle with uvs (its buffer named geometry.bin, for a .gltf), wearing `material`, as its scene. */
export function withTriangle(doc: Document, material: Material): Document {
  const buffer = doc.createBuffer('geometry').setURI('geometry.bin');
  const accessor = (type: 'VEC2' | 'VEC3', values: number[]) =>
    doc.createAccessor().setType(type).setArray(new Float32Array(values)).setBuffer(buffer);
  const prim = doc
    .createPrimitive()
    .setAttribute('POSITION', accessor('VEC3', [0, 0, 0, 1, 0, 0, 0, 1, 0]))
    .setAttribute('TEXCOORD_0', accessor('VEC2', [0, 0, 1, 0, 0, 1]))
    .setMaterial(material);
  doc.getRoot().setDefaultScene(doc.createScene('s').addChild(doc.createNode('tri').setMesh(doc.createMesh('tri').addPrimitive(prim))));
  return doc;
}
