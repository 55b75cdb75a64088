// placeholder until the front end lands
export default { render({ el }: { el: HTMLElement }) { el.textContent = "rt_widget"; } };
